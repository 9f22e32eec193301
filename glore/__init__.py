"""GloRe: Graph-based Global Reasoning Networks (Chen et al., CVPR 2019) for video classification."""
