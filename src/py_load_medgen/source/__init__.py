"""Where the bytes come from: a local directory, or a mirror of an HTTP(S)/FTP directory."""
