"""studio-warden infrastructure: the Pulumi program, one module per concern (see README.md)."""
