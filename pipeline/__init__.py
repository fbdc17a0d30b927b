"""The log-analytics workbench, one package per stage of the data's way, in notebook order:
``stack`` (01), ``generate`` (02), ``ingest`` (03), ``windows`` (04), ``analysis`` (05), ``report``
(06); ``settings`` and ``common`` below them all, ``cli`` and ``bench`` above."""
