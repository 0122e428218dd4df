"""`textbooks run`: pipeline files, the runner, the report and the cards."""
