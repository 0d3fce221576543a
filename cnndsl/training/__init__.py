"""`cnndsl train`: train a compiled network on real data and write the model, history and plots.

Only run.py and the modules it calls at training time import TensorFlow, and
they do so inside functions, so `cnndsl check` and `summary` stay fast.
"""
