"""A YAML loader that reads every plain value as the text written.

YAML 1.1 (PyYAML's ``safe_load``) turns an unquoted ``yes``, ``no``, ``on`` or ``off`` into a boolean,
``010`` into 8 and ``2019-12-31`` into a date, so a level ``{0: No, 10: Yes}`` would print as
"False"/"True" and a code ``01`` as "1". :class:`TextLoader` keeps them as text (``"yes"``, ``"010"``);
only an empty value, ``~`` and ``null`` mean "not given". The typed study description then reads
numbers and booleans where it expects them (``psm: true``, ``bins: [0, 50]``).
"""

from __future__ import annotations

import re

import yaml

__all__ = ["TextLoader"]


class TextLoader(yaml.SafeLoader):
    """PyYAML's safe loader with no implicit types but null (and ``<<`` merge keys)."""

    yaml_implicit_resolvers: dict = {}


TextLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
TextLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
