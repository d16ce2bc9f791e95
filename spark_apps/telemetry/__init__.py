"""Code shared by the speed layer and the batch layer: schema, pure transforms, sinks."""
