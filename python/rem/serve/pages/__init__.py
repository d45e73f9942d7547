"""The pages of `rem serve`, one module per family: :mod:`.days` (a day, a week, a month), :mod:`.moment`
(a moment and its corrections), :mod:`.find` (search, ask, a topic's or person's page), :mod:`.review`,
:mod:`.graph` and :mod:`.runs`. Each view is ``view(web, request)``; :mod:`rem.serve.routes` maps them."""
