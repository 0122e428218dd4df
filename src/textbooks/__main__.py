from textbooks.cli import main

if __name__ == "__main__":  # not again in worker processes that re-import the main module
    main()
