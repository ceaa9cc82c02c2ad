"""One plain function per subcommand; no printing except through a Reporter."""
