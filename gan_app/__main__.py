from gan_app import main

main()
