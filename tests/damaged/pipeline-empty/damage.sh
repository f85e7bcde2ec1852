: > pipeline.yaml
