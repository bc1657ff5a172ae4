"""py-load-medgen."""
