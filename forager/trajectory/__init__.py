"""Trajectories, the record of one agent episode: ``schema`` (the models), ``fileformat`` (JSONL/gzip,
strict and lenient reading), ``store`` (stored files and the registry index), ``present`` (how
parts are shown everywhere), ``replay`` (terminal view and re-execution), ``export`` (training data)."""
