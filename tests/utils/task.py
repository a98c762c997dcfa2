"""CRM tasks: created through createTask, synced into the task calendar while task sync is on."""

from __future__ import annotations

CREATE_TASK = """mutation($input: TaskInput!) { createTask(input: $input) {
  __typename ... on TaskSuccess { task { id title synced } } ... on ValidationError { field } } }"""
"""No `... on Error { message }`: ValidationError is an Error, and test_create_task compares a
ValidationError result with {"__typename", "field"} exactly."""
