"""Repository tools that do not ship in the wheel (docs generators)."""
