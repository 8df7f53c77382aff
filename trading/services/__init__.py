"""Trading business logic. Interfaces (commands, admin, API, tasks) call these functions."""
