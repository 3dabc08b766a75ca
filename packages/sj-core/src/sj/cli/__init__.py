"""The ``sj`` console command; subcommands come from plug-ins through the ``sj_cli_commands`` hook."""
