from bluekit.cli import main

main()
