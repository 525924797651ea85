"""Research code: the studies that chose Emotion Lens's settings, kept apart from the library and
the app, which never import it. Each study writes what the product reads beside the vectors:

- ``steering_study`` and ``steering_cell``: the steering study and its one-cell explorer, which
  write ``steering.json`` and ``steering-verdicts.json``; ``preset`` resolves them into
  ``steering-preset.json`` (``core.steering_preset``);
- ``token_study``: the token-level reading's set-up, ``token-study.json`` (``build --token``);
- ``live_thresholds``: Live's default threshold, ``live-threshold.json``.

Run them as modules, e.g. ``.venv/bin/python -m study.steering_study --model smollm2-135m-instruct``.
"""
