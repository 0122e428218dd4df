from textbooks.cli import main

main()
