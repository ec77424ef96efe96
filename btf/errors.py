"""btf's exception types: every failure a user can cause is one of these, with a message that names the file or value at fault."""


class BtfError(Exception):
    """Base class for every error btf raises on purpose."""


class DataError(BtfError, ValueError):
    """A data file is missing, corrupt or not in the expected format."""


class CheckpointError(BtfError, ValueError):
    """A model file is not a valid, safe btf checkpoint."""


class ConfigError(BtfError, ValueError):
    """A Graph was asked for an unknown option or an impossible shape."""
