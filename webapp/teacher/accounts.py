"""Account help for head teachers: step-up SMS verification, code and password resets, the parents directory."""
