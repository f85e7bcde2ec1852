rm pipeline.yaml && mkdir pipeline.yaml
