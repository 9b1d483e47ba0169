"""Trajectories: the schema, the file format and store index, export, replay."""
