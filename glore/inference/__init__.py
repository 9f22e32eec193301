"""A trained GloRe model in use: loading it, scoring test lists, predicting one video."""
