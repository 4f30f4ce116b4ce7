//! Capture paths that feed the engine's write-event API: FUSE shim, NBD, network server/agent, store mount.
