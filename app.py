"""GAN Studio: explore pretrained GANs in the browser. Run: python app.py (Hugging Face Spaces do); the app is the
package gan_app."""
from gan_app import create_demo, main

__all__ = ["create_demo", "main"]

if __name__ == "__main__":
    main()
