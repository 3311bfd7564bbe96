"""Language-model architectures of ``lmx.lm``: one module per ``model_type`` (``Model``, ``ModelArgs``)."""
