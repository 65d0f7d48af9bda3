"""The prompt library: saved prompts, public prompts, wildcard lists, style modifiers, presets, history,
templates and files in and out."""
