"""The pipeline as written: pipeline.yaml loaded, checked and built into a model.

May import: errors, scan.
"""
