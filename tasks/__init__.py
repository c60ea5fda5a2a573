"""`inv` from the repository root finds `tasks` here, as Invoke looks for it; the tasks themselves are the
`rt_tasks` package (the one `rt` runs). This folder is the checkout's only: the product's wheel ships
`rt_tasks`, never a generic top-level `tasks` that could shadow another project's."""
from rt_tasks import ns  # noqa: F401  (importing rt_tasks also makes `inv` follow rt's rules: rt_tasks.adopt)
