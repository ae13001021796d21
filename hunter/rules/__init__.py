"""Readers of other rule formats into hunter's ``Hunt`` model, one module per format.

Each reader knows only the models (:mod:`hunter.hunts`) and the engine (:mod:`hunter.eql`, through
the models' query check); :func:`hunter.hunts.load_hunt_set` picks the reader for each file.
"""
