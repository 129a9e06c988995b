"""The warning category of every legacy name (kept free of torch imports)."""


class RinglibDeprecationWarning(FutureWarning):
    """A legacy ``dilated_attention_pytorch`` name was used; ``ringlib migrate`` rewrites it.

    A ``FutureWarning`` subclass so that it is shown by default to end users, and
    ``-W error::FutureWarning`` turns it into an error in CI.
    """
