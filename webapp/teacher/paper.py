"""The paper loop: upload on a parent's behalf and batch upload of sheet photos."""
