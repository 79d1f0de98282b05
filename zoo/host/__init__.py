"""The plugin host: the hook contract, the Provider base class, the PluginManager. No TF."""
