base:
  '*':
    - common
  web1:
    - frontend
