"""A loaded model as one contract: Backbone, introspection, preprocessing layers, heads, doctor.

The modules here import Keras when they run; importing the package does not.
"""
