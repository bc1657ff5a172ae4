"""What a MedGen release is: the files, their columns and the tables they load into. No I/O."""
