from cropcalc.cli.app import main

main()
