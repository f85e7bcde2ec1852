printf 'kite: 1\nname: \377\376\n' > pipeline.yaml
