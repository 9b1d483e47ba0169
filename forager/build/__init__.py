"""Source to validated image: fetch the source, detect a recipe, build layers, repair, validate."""
