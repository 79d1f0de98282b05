"""TF2 SavedModels: Hub handles and caches, HubLayer, SavedModel backbones, graph splitting."""
