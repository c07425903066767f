"""The two kinds of error a user can fix: a bad config value, and bad input data."""


class ConfigError(ValueError):
    """A config value that the schema, or a cross-reference, rejects; the message names the key."""


class InputError(ValueError):
    """Bad input data; the message names the file, line or field."""


class HubError(ValueError):
    """A model, data set or benchmark that could not be fetched from the Hugging Face hub (unknown id, gated,
    or no hub to reach); the message names the config key and what to do."""
