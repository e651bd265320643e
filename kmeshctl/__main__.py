from kmeshctl.cli import main

main()
