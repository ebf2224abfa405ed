"""After the search: a trial exported as a stock PEFT config and a typed recipe (``export``,
``recipe``), and its full training (``train``)."""
