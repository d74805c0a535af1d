"""Where models are loaded and run: the offline model kit, the micro-batcher, the teacher LM."""
