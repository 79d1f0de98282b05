"""Built-in providers; each module is an ordinary tfzoo plugin."""
