"""The one error a user's input raises."""


class InputError(Exception):
    """A problem with the user's input that ends the command with exit code 2."""
