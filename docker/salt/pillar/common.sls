deploy:
  env: lab
