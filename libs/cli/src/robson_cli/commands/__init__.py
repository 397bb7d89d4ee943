"""The `robson` subcommands."""
