from expander.cli import main

main()
