from sampleapp.app import build

build().run()
