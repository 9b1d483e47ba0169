"""AST mutations: pure functions from one file's source to candidate mutated sources, and patches.

Families (after the CWM paper's mutate-fix split, plus two extras): function, arguments, variables,
statements (``families``), operators, constants, conditions (``expressions``). ``text`` turns AST
positions into string edits, ``functions`` lists a module's functions, ``mutate`` drives the
families and stubs a function, ``patch`` writes unified diffs.
"""

from forager.tasks.mutations.functions import FunctionInfo, list_functions
from forager.tasks.mutations.mutate import FAMILIES, Mutation, mutate_source, stub_function
from forager.tasks.mutations.patch import unified_patch

__all__ = ["FAMILIES", "FunctionInfo", "Mutation", "list_functions", "mutate_source", "stub_function",
           "unified_patch"]
